"""The HTTP surface: public routes, bounded bodies, uploads, the error model, the OpenAPI document, the request log."""
