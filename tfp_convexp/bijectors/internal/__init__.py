"""What the public layers are built from: argument checks, image events,
base classes and the shared pieces of couplings and channel maps."""
