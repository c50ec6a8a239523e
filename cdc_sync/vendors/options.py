"""The base of a vendor's own destination settings (`Vendor.options`): the extra keys of a
`DestinationConfig`, typed. `cdc_sync.config` validates them strictly; `of` reads them."""

from typing import Self

from pydantic import BaseModel, ConfigDict

from cdc_sync.model.config import DestinationConfig


class VendorOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def of(cls, config: DestinationConfig) -> Self:
        """This vendor's settings of a destination (keys of other vendors are not its business)."""
        return cls.model_validate({k: v for k, v in config.options.items() if k in cls.model_fields})
