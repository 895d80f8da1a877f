// WAWire: the WhatsApp Web multi-device wire protocol as a pure library — bytes in, values out.
// See docs/protocol.md for the map of this module.
