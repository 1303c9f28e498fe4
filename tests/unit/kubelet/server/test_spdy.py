"""SPDY/3.1 framing, header compression (checked against bytes the real kubectl sent) and the server session."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from pyk8s.kubelet.server import spdy

# The first three SYN_STREAM frames kubectl 1.29 sent for `exec p -- echo hi` (error, stdout, stderr streams),
# captured from a listener that answered the SPDY upgrade. Their header blocks share one zlib stream.
KUBECTL_129_SYN_STREAMS = bytes.fromhex(
    "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff"
    "800300010000001900000003000000000000c22ac5565c92925f5a02000000ffff"
    "800300010000001500000005000000000000c229975a5404000000ffff"
)


def test_dictionary_matches_the_spec_size_and_checksum() -> None:
    assert len(spdy.HEADER_DICTIONARY) == 1423
    assert spdy.HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.HEADER_DICTIONARY.endswith(b",*,enq=0.")


def test_inflates_real_kubectl_syn_streams() -> None:
    frames = spdy.FrameDecoder().feed(KUBECTL_129_SYN_STREAMS)
    dec = spdy.HeaderDecompressor()
    seen = []
    for f in frames:
        assert isinstance(f, spdy.ControlFrame) and f.type == spdy.SYN_STREAM
        stream_id = struct.unpack_from(">I", f.payload)[0]
        seen.append((stream_id, dec.decompress(f.payload[10:])))
    assert seen == [(1, {"streamtype": ["error"]}), (3, {"streamtype": ["stdout"]}), (5, {"streamtype": ["stderr"]})]


def test_wrong_dictionary_fails() -> None:
    frame = spdy.FrameDecoder().feed(KUBECTL_129_SYN_STREAMS)[0]
    assert isinstance(frame, spdy.ControlFrame)
    with pytest.raises(zlib.error):
        zlib.decompressobj(zdict=spdy.HEADER_DICTIONARY[:-1]).decompress(frame.payload[10:])


def test_frames_round_trip_in_arbitrary_slices() -> None:
    wire = (spdy.encode_control(spdy.PING, 0, struct.pack(">I", 7))
            + spdy.encode_data(3, b"hello", fin=True)
            + spdy.encode_data(5, b"x" * 70000))
    dec = spdy.FrameDecoder()
    frames: list[spdy.Frame] = []
    for i in range(0, len(wire), 13):
        frames += dec.feed(wire[i:i + 13])
    assert frames == [spdy.ControlFrame(spdy.PING, 0, struct.pack(">I", 7)),
                      spdy.DataFrame(3, spdy.FLAG_FIN, b"hello"), spdy.DataFrame(5, 0, b"x" * 70000)]


def test_header_blocks_round_trip_over_one_zlib_stream() -> None:
    comp, dec = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    blocks = [{"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}, {}, {"a": ["1", "2"]}]
    assert [dec.decompress(comp.compress(b)) for b in blocks] == blocks


def test_rejects_upper_case_and_duplicate_names() -> None:
    raw = struct.pack(">I", 1) + struct.pack(">I", 1) + b"A" + struct.pack(">I", 1) + b"x"
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.decode_header_block(raw)


class Client:
    """The client end: encodes what kubectl would send and decodes what the server sends."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.comp = spdy.HeaderCompressor()
        self.dec = spdy.HeaderDecompressor()
        self.frames = spdy.FrameDecoder()
        self.closed = False
        self.session = spdy.SpdySession(self._recv, self._close)

    async def _recv(self, data: bytes) -> None:
        self.out += data

    async def _close(self) -> None:
        self.closed = True

    def syn(self, stream_id: int, headers: spdy.Headers, flags: int = 0) -> None:
        payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + self.comp.compress(headers)
        self.session.feed(spdy.encode_control(spdy.SYN_STREAM, flags, payload))

    async def received(self, count: int) -> list[spdy.Frame]:
        frames: list[spdy.Frame] = []
        async with asyncio.timeout(2):
            while len(frames) < count:
                frames += self.frames.feed(bytes(self.out))
                self.out.clear()
                if len(frames) < count:
                    await asyncio.sleep(0)
        return frames


async def test_session_replies_moves_data_and_echoes_pings() -> None:
    c = Client()
    c.syn(1, {"streamtype": ["data"], "port": ["80"]})
    stream = await c.session.accept()
    assert stream is not None and stream.header("port") == "80"
    [reply] = await c.received(1)
    assert isinstance(reply, spdy.ControlFrame) and reply.type == spdy.SYN_REPLY
    assert struct.unpack_from(">I", reply.payload)[0] == 1
    assert c.dec.decompress(reply.payload[4:]) == {}

    c.session.feed(spdy.encode_data(1, b"abc") + spdy.encode_data(1, b"", fin=True))
    assert await stream.read() == b"abc"
    assert await stream.read() == b""

    await stream.write(b"out")
    await stream.close_write()
    c.session.feed(spdy.encode_control(spdy.PING, 0, struct.pack(">I", 1)))
    c.session.feed(spdy.encode_control(spdy.SETTINGS, 0, struct.pack(">I", 0)))  # ignored
    frames = await c.received(3)
    assert frames[:2] == [spdy.DataFrame(1, 0, b"out"), spdy.DataFrame(1, spdy.FLAG_FIN, b"")]
    assert frames[2] == spdy.ControlFrame(spdy.PING, 0, struct.pack(">I", 1))

    await c.session.close()
    [goaway] = await c.received(1)
    assert goaway == spdy.ControlFrame(spdy.GOAWAY, 0, struct.pack(">II", 1, 0))
    assert c.closed and await c.session.accept() is None


async def test_reset_and_eof_end_reads() -> None:
    c = Client()
    c.syn(1, {"streamtype": ["stdin"]})
    c.syn(3, {"streamtype": ["stdout"]})
    s1, s3 = await c.session.accept(), await c.session.accept()
    assert s1 is not None and s3 is not None
    c.session.feed(spdy.encode_control(spdy.RST_STREAM, 0, struct.pack(">II", 1, spdy.RST_CANCEL)))
    assert await s1.read() == b""
    with pytest.raises(ConnectionResetError):
        await s1.write(b"x")
    c.session.feed_eof()
    assert await s3.read() == b""
    assert await c.session.accept() is None
