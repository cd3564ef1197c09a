"""Domain services: the logic between the HTTP/event edge and the models."""
