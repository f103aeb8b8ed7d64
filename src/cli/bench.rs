pub fn run(_o: u64, _i: u64) {}
