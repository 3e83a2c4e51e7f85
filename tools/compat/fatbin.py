"""List the GPU architectures in the CUDA fat binaries embedded in an ELF shared object.

Fatbin container: magic 0xBA55ED50, u16 version, u16 header_size, u64 fat_size; then entries:
u16 kind (1=PTX, 2=ELF/SASS), u16 flags, u32 entry_header_size, u64 payload_size, ...,
u32 arch at offset 28 of the entry header (e.g. 35 for sm_35)."""
import mmap, struct, sys, collections
path = sys.argv[1]
with open(path, "rb") as f:
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
magic = struct.pack("<I", 0xBA55ED50)
seen = collections.Counter()
pos = mm.find(magic)
n = 0
while pos != -1:
    ver, hsize, fsize = struct.unpack_from("<HHQ", mm, pos + 4)
    if hsize == 16 and 0 < fsize < 1 << 34:
        n += 1
        off = pos + hsize
        end = off + fsize
        while off < end and off + 32 <= len(mm):
            kind, flags, ehsize, psize = struct.unpack_from("<HHIQ", mm, off)
            arch = struct.unpack_from("<I", mm, off + 28)[0]
            if ehsize < 32 or ehsize > 256 or kind not in (1, 2):
                break
            seen[("PTX" if kind == 1 else "SASS", arch)] += 1
            off += ehsize + psize
        pos = mm.find(magic, end if end > pos else pos + 4)
    else:
        pos = mm.find(magic, pos + 4)
print(path, "fatbins:", n)
for (k, a), c in sorted(seen.items()):
    print(f"  {k} sm_{a}: {c}")
