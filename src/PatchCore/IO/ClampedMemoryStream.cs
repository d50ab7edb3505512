namespace PatchCore.IO;

/// <summary>
/// A read-only memory stream whose position never passes its end. StbImageSharp skips a marker segment by
/// seeking forward and tests for the end with Position == Length; a segment length that runs past the end
/// leaves Position &gt; Length, and its JPEG marker scan then loops for ever (an 11-byte truncated JPEG hangs
/// it). Clamped, the skip lands on the end and the decoder reports "no SOF" instead.
/// </summary>
public sealed class ClampedMemoryStream(byte[] bytes) : MemoryStream(bytes, writable: false)
{
    public override long Seek(long offset, SeekOrigin origin)
    {
        long p = base.Seek(offset, origin);
        if (p <= Length) return p;
        base.Position = Length;
        return Length;
    }

    public override long Position
    {
        get => base.Position;
        set => base.Position = Math.Min(value, Length);
    }
}
