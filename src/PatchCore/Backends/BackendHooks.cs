namespace PatchCore.Backends;

/// <summary>
/// A backend that can fill every tensor it allocates with NaN, so an element an op forgets to write fails a
/// comparison instead of passing as a lucky zero. <see cref="BackendSelfCheck"/> switches it on around each case.
/// </summary>
public interface IPoisonableBackend
{
    bool PoisonAllocations { get; set; }
}

/// <summary>A backend that can keep the coreset's projected features in fp16 (half the memory traffic).</summary>
public interface IFp16CoresetBackend
{
    bool CoresetFloat16 { get; set; }
}

/// <summary>
/// A backend whose nearest-neighbour search runs in tiles of at most QueryRows queries x DatabaseRows database
/// rows; the self-check shrinks them so the running top-k is merged across tiles even at small sizes.
/// </summary>
public interface ITiledNeighboursBackend
{
    (int QueryRows, int DatabaseRows) NeighbourTiles { get; set; }
}
