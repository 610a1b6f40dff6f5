"""Security Lake: its layout, OCSF schemas, readers, validation and a synthetic lake generator."""
