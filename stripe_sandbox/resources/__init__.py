"""The stand-in's API, a module per resource, each class building on the one before."""
