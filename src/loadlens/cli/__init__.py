"""Commands: the only layer that wires everything together, prints, and exits."""
