"""ALICE-style PID study: detector simulation, the extractor's schema, six models, the seed's protocol and its fixes."""
