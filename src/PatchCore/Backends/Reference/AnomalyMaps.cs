namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma) => throw new NotImplementedException();
}
