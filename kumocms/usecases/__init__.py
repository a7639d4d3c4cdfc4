"""Domain layer: the use cases, one function per thing a caller or an event can ask for."""
