"""Streaming identity resolution: which source records, across agencies, are one person.

The resolver (resolver.py) is a pure object over a store Protocol (store.py); the Kafka wiring lives
elsewhere. Matching is deterministic rules on strong identifiers then Fellegi-Sunter scoring (matching.py)
under a versioned model file (data/model_v3.yaml, "fs-v3"; earlier versions stay beside it).
"""
