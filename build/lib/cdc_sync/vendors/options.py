"""The base of a vendor's own settings: the extra keys of a shared settings model (a
`DestinationConfig` for `Vendor.options`, the `SandboxSettings` for `SandboxApp.settings`), typed.
The shared model's loader validates them strictly; `of` reads them."""

from typing import Self

from pydantic import BaseModel, ConfigDict


class VendorOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def of(cls, shared: BaseModel) -> Self:
        """This vendor's settings among the shared model's extras (other vendors' are not its business)."""
        extras = shared.model_extra or {}
        return cls.model_validate({k: v for k, v in extras.items() if k in cls.model_fields})
