"""ALICE-style PID study: detector simulation, the extractor's schema, six models, the original's protocol and its fixes."""
