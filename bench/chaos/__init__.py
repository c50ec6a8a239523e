"""`make chaos`: faults on the real stack, each change counted lost or duplicated (see __main__)."""
