from whiteglove.sample_data.generator import main

raise SystemExit(main())
