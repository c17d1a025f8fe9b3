"""provmark: provenance for images in the age of generative AI.

Subpackages: ``watermark`` (invisible marks, payload coding, concept codes), ``models``
(torch networks, training, shipped weights), ``c2pa`` (manifests, signing, disclosure
metadata), ``detect`` (attribution and verification reports), ``io`` (image files),
``cli`` (the ``provmark`` command).
"""

__version__ = "0.1.0"
