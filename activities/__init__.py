"""Activities: everything that touches the world, as methods of classes with injected dependencies."""
