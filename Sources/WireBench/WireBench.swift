// WireBench: figures for the wire layer.
