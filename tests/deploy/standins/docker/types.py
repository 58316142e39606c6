"""Stand-in of docker.types.Mount (docker-py)."""


class Mount(dict):
    def __init__(self, target, source, type="volume", read_only=False, **kw):
        super().__init__(Target=target, Source=source, Type=type, ReadOnly=read_only, **kw)
        self.kw = {"source": source, "target": target, "type": type, "read_only": read_only, **kw}
