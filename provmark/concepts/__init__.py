"""ProMark concepts: a registry of concepts with watermark codes, catalog marking, layouts.

Each registry holds a secret; its concepts' watermark payloads are derived from that secret,
so images marked for one registry are attributed only by that registry.
"""
