"""Local video work after a download, in four modules with no test code among them.

- :mod:`skill.media.ffmpeg`: find ffmpeg (PATH or the ``[video]`` extra), cheaply.
- :mod:`skill.media.mp4probe`: read MP4 headers in pure Python (every download is checked).
- :mod:`skill.media.video`: stitch, crop, verify and publish a plan's video with ffmpeg.
- :mod:`skill.media.contact_sheet`: six frames of a saved video as one small JPEG beside it.

The package face imports nothing: the modules are the API.
"""

__all__: list[str] = []
