"""Request and response models: `XCreate` / `XUpdate` in, `XPublic` out."""
