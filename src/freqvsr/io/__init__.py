"""Video and image-folder I/O on PyAV: streaming decode, encode, remux with audio/subtitles.

Typical job::

    info = probe(src_path)
    settings = EncodeSettings(crf=20).resolve(out_path, info)
    with open_input(src_path) as src, SegmentWriter(seg_path, settings, W, H, info) as w:
        for frame in src:
            w.write(process(frame.image), frame.pts)
    assemble_video(out_path, [seg_path], info)
"""

from freqvsr.io._colour import INTERPOLATION as COLOUR_INTERPOLATION
from freqvsr.io.encode import (
    CODECS,
    SEGMENT_SUFFIX,
    VIDEO_EXTENSIONS,
    EncodeSettings,
    SegmentWriter,
    check_encoder,
    codec_pix_fmts,
    encoder_memory,
    has_alpha_plane,
    output_colour,
    segment_suffix,
)
from freqvsr.io.frame_folder import FrameFolderWriter, check_frame_folder, is_video_output
from freqvsr.io.mux import assemble_video
from freqvsr.io.reader import (
    IMAGE_EXTENSIONS,
    Frame,
    FrameSource,
    VideoInfo,
    list_images,
    open_input,
    probe,
)

__all__ = [
    "CODECS",
    "COLOUR_INTERPOLATION",
    "IMAGE_EXTENSIONS",
    "SEGMENT_SUFFIX",
    "VIDEO_EXTENSIONS",
    "EncodeSettings",
    "Frame",
    "FrameFolderWriter",
    "FrameSource",
    "SegmentWriter",
    "VideoInfo",
    "assemble_video",
    "check_encoder",
    "encoder_memory",
    "check_frame_folder",
    "codec_pix_fmts",
    "has_alpha_plane",
    "is_video_output",
    "list_images",
    "open_input",
    "output_colour",
    "probe",
    "segment_suffix",
]
