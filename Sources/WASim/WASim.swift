// WASim: a local WhatsApp server and simulated phone that speak the documented bytes.
