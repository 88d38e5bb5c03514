#!/usr/bin/env python3
"""Writes a test tone as a 16-bit PCM mono WAV for Chromium's fake microphone.

    python3 make_wav.py OUT.wav [--rate 48000] [--seconds 4] [--freq 440]

The tone is modulated at 3 Hz (syllable-like bursts) so it is not a flat line; the simulator makes
up its transcript whatever the audio holds.
"""

import argparse
import math
import struct
import wave


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--freq", type=float, default=440.0)
    args = parser.parse_args()

    frames = bytearray()
    for n in range(int(args.rate * args.seconds)):
        t = n / args.rate
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 3 * t)
        sample = 0.4 * envelope * math.sin(2 * math.pi * args.freq * t)
        frames += struct.pack("<h", int(sample * 32767))

    with wave.open(args.out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(args.rate)
        wav.writeframes(bytes(frames))


if __name__ == "__main__":
    main()
