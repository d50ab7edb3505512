namespace PatchCore.Backends;

/// <summary>Argument checks every backend's AggregatePatchFeatures shares.</summary>
public static class AggregationChecks
{
    public static void Validate(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec)
    {
        if (layer2.Rank != 4 || layer3.Rank != 4)
            throw new ArgumentException($"aggregation needs NCHW maps, got layer2 {layer2.ShapeString} and layer3 {layer3.ShapeString}");
        if (layer2[0] != layer3[0])
            throw new ArgumentException($"layer2 {layer2.ShapeString} and layer3 {layer3.ShapeString} have different batch sizes");
        if (spec.PatchSize < 1 || spec.PatchSize % 2 == 0)
            throw new ArgumentException($"patch size {spec.PatchSize} must be odd (stride 1 with 'same' padding keeps layer2's grid)");
        if (spec.Mode == AggregationMode.Official && (spec.PretrainDim < 1 || spec.TargetDim < 1))
            throw new ArgumentException("PretrainDim and TargetDim must be positive");
    }
}
