"""whiteglove: golden customer records from fragmented exports."""
