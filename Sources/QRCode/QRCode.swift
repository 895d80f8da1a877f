// QRCode: a pure QR Code encoder (ISO/IEC 18004) with an SVG renderer.
