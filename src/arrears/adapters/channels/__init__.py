"""Channel renderers that are not message providers: collection letters (HTML → PDF)."""
