"""Preparing a request: the tools' argument models, the images, and the body each endpoint is sent."""
