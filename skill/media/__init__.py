"""Local video work after a download: find ffmpeg, stitch, crop, verify, and read MP4 headers."""
