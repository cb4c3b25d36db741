// @y/websocket-server 0.1.1 imports y-leveldb statically, for persistence the benchmark does
// not turn on (YPERSISTENCE unset); y-leveldb is an optional dependency that does not install
// here. This stub satisfies the import; constructing it would be a bug.
export class LeveldbPersistence {
  constructor() {
    throw new Error('y-leveldb is stubbed in the benchmark: persistence is off');
  }
}
