"""Scale-out: the one way to get a Dask client (:func:`.client.dask_client`), seeded chunks (:mod:`.chunks`)
and sweeps as tasks (:mod:`.sweep`). Import the module you mean; nothing is re-exported here."""
