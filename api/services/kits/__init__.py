"""Career-bridge kits: build one (build), render and write it (export), gather its optional inputs (sources)."""
