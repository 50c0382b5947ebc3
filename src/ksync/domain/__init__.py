"""ksync's domain words, shared by every layer: statuses, typed views of what the store
holds, and the errors operations raise. Nothing here does I/O; everything may import it."""
