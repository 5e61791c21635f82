"""The REST API for systems (core banking, dialers): token auth, versioned under /api/v1."""
