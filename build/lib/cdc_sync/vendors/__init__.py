"""One folder per vendor kind; `registry` is the only list of them."""
