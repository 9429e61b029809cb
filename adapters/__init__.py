"""maskaug.adapters: modality presets and data plumbing (image, RGB-D, video, spectrogram).

Adapters pick axes and defaults for the core and bring data in; they carry no masking logic of
their own. This folder is installed as the ``maskaug.adapters`` package.
"""
