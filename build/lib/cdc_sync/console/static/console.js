// Progressive enhancement only: every page reads and every form posts without it.
// 1. Forms (or buttons) with data-confirm ask first.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
// 2. Elements with data-refresh="ms" are fetched again and swapped in place (no reload).
for (const live of document.querySelectorAll("[data-refresh]")) {
  setInterval(async () => {
    if (document.activeElement && live.contains(document.activeElement)) return; // typing
    const answer = await fetch(window.location.href, { credentials: "same-origin" });
    if (!answer.ok) return;
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const fresh = page.getElementById(live.id);
    if (fresh) live.replaceChildren(...fresh.childNodes);
  }, Number(live.dataset.refresh));
}
