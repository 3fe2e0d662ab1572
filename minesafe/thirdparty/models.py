"""Models of the thirdparty app."""
