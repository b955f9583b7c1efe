# Local stub: CTranslate2 is a compiled extension without types; this covers only what agent_worker.inference uses.
from ctranslate2 import models as models

class StorageView:
    @staticmethod
    def from_array(array: object) -> StorageView: ...
