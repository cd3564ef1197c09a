"""One Blueprint per capability: parse -> validate -> one service call -> serialize."""
