// SPDX-License-Identifier: Apache-2.0
//
// ELF objects, debug-file search and function symbol tables. Request time
// only; nothing here runs in a signal handler.
//
// Symbols: every STT_FUNC/STT_GNU_IFUNC with a defined section from .symtab
// and .dynsym (a stripped module has only .dynsym; its debug file usually
// carries the full .symtab, which the caller adds too). Aliases at one
// address collapse to one name, preferring global over weak over local and
// then fewer leading underscores ("qsort" over "__qsort"). A symbol of size 0
// (hand-written assembly) extends to the next symbol. Overlapping sizes are
// clipped so the table is a sorted, non-overlapping list searched by binary
// search.
//
// Debug files: the build-ID path is tried first because it identifies the
// exact file; .gnu_debuglink candidates must match the build ID or, without
// one, the CRC32 the link records (the same CRC-32 zlib computes).

#include "symbolize/elf_symbols.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace cpprof {
namespace internal {
namespace {

constexpr char kDebugRoot[] = "/usr/lib/debug";

bool ElfVersionReady() {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

std::string HexString(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

Elf_Scn* FindSection(Elf* elf, const char* name, GElf_Shdr* shdr_out) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return nullptr;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* sname = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (sname != nullptr && strcmp(sname, name) == 0) {
      if (shdr_out != nullptr) *shdr_out = shdr;
      return scn;
    }
  }
  return nullptr;
}

// CRC32 of a whole file, as recorded by .gnu_debuglink.
bool FileCrc32(int fd, uint32_t* crc_out) {
  uLong crc = crc32(0L, Z_NULL, 0);
  unsigned char buf[64 * 1024];
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), offset);
    if (n < 0) return false;
    if (n == 0) break;
    crc = crc32(crc, buf, static_cast<uInt>(n));
    offset += n;
  }
  *crc_out = static_cast<uint32_t>(crc);
  return true;
}

int UnderscorePrefix(std::string_view name) {
  int n = 0;
  while (n < static_cast<int>(name.size()) && name[n] == '_') ++n;
  return n;
}

}  // namespace

std::unique_ptr<ElfObject> ElfObject::OpenFile(const std::string& path) {
  if (!ElfVersionReady()) return nullptr;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    if (elf != nullptr) elf_end(elf);
    close(fd);
    return nullptr;
  }
  std::unique_ptr<ElfObject> object(new ElfObject());
  object->fd_ = fd;
  object->elf_ = elf;
  object->path_ = path;
  return object;
}

std::unique_ptr<ElfObject> ElfObject::OpenMemory(const void* image, size_t size) {
  if (!ElfVersionReady() || image == nullptr || size == 0) return nullptr;
  std::unique_ptr<ElfObject> object(new ElfObject());
  object->image_.assign(static_cast<const char*>(image), static_cast<const char*>(image) + size);
  object->elf_ = elf_memory(object->image_.data(), object->image_.size());
  if (object->elf_ == nullptr || elf_kind(object->elf_) != ELF_K_ELF) return nullptr;
  return object;
}

ElfObject::~ElfObject() {
  if (elf_ != nullptr) elf_end(elf_);
  if (fd_ >= 0) close(fd_);
}

bool ElfObject::HasSectionData(const char* name) const {
  GElf_Shdr shdr;
  return FindSection(elf_, name, &shdr) != nullptr && shdr.sh_type != SHT_NOBITS && shdr.sh_size > 0;
}

std::string ElfObject::BuildId() const {
  // Sections first (debug files keep the note section but may lack PT_NOTE
  // data), then program headers (objects without section headers).
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || data->d_buf == nullptr) continue;  // SHT_NOBITS-like: no bytes
    size_t offset = 0, name_offset, desc_offset;
    GElf_Nhdr nhdr;
    while ((offset = gelf_getnote(data, offset, &nhdr, &name_offset, &desc_offset)) > 0) {
      if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
          memcmp(static_cast<const char*>(data->d_buf) + name_offset, "GNU", 4) == 0) {
        return HexString(static_cast<const unsigned char*>(data->d_buf) + desc_offset,
                         nhdr.n_descsz);
      }
    }
  }
  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) != 0) return std::string();
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf_, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_NOTE) continue;
    Elf_Data* data = elf_getdata_rawchunk(elf_, phdr.p_offset, phdr.p_filesz, ELF_T_NHDR);
    if (data == nullptr || data->d_buf == nullptr) continue;
    size_t offset = 0, name_offset, desc_offset;
    GElf_Nhdr nhdr;
    while ((offset = gelf_getnote(data, offset, &nhdr, &name_offset, &desc_offset)) > 0) {
      if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
          memcmp(static_cast<const char*>(data->d_buf) + name_offset, "GNU", 4) == 0) {
        return HexString(static_cast<const unsigned char*>(data->d_buf) + desc_offset,
                         nhdr.n_descsz);
      }
    }
  }
  return std::string();
}

bool ElfObject::DebugLink(std::string* name, uint32_t* crc) const {
  GElf_Shdr shdr;
  Elf_Scn* scn = FindSection(elf_, ".gnu_debuglink", &shdr);
  if (scn == nullptr) return false;
  Elf_Data* data = elf_getdata(scn, nullptr);
  // A malformed file can give the section a size but no bytes (found by
  // tests/fuzz/fuzz_elf).
  if (data == nullptr || data->d_buf == nullptr || data->d_size < 8) return false;
  const char* bytes = static_cast<const char*>(data->d_buf);
  const size_t len = strnlen(bytes, data->d_size);
  if (len == 0 || len == data->d_size) return false;
  const size_t crc_offset = (len + 4) & ~size_t{3};  // name, NUL, pad to 4
  if (crc_offset + 4 > data->d_size) return false;
  name->assign(bytes, len);
  uint32_t raw;
  memcpy(&raw, bytes + crc_offset, 4);
  // The CRC is stored in the object's byte order.
  const unsigned char* ident = reinterpret_cast<const unsigned char*>(elf_getident(elf_, nullptr));
  const bool file_le = ident != nullptr && ident[EI_DATA] == ELFDATA2LSB;
  const bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  *crc = file_le == host_le ? raw : __builtin_bswap32(raw);
  return true;
}

std::unique_ptr<ElfObject> FindDebugFile(const ElfObject& object, const std::string& build_id) {
  auto usable = [](const std::unique_ptr<ElfObject>& candidate) {
    return candidate != nullptr && candidate->HasSectionData(".debug_info");
  };
  if (build_id.size() > 2) {
    std::string path = std::string(kDebugRoot) + "/.build-id/" + build_id.substr(0, 2) + "/" +
                       build_id.substr(2) + ".debug";
    std::unique_ptr<ElfObject> candidate = ElfObject::OpenFile(path);
    if (usable(candidate) && candidate->BuildId() == build_id) return candidate;
  }
  std::string link;
  uint32_t crc = 0;
  if (object.path().empty() || !object.DebugLink(&link, &crc)) return nullptr;
  if (link.find('/') != std::string::npos) return nullptr;  // a name, never a path
  std::string dir = object.path().substr(0, object.path().rfind('/') + 1);
  for (const std::string& path : {dir + link, dir + ".debug/" + link,
                                  std::string(kDebugRoot) + dir + link}) {
    if (path == object.path()) continue;
    std::unique_ptr<ElfObject> candidate = ElfObject::OpenFile(path);
    if (!usable(candidate)) continue;
    const std::string candidate_id = candidate->BuildId();
    if (!build_id.empty() && !candidate_id.empty()) {
      if (candidate_id == build_id) return candidate;
      continue;
    }
    uint32_t file_crc = 0;
    if (candidate->fd() >= 0 && FileCrc32(candidate->fd(), &file_crc) && file_crc == crc) {
      return candidate;
    }
  }
  return nullptr;
}

void ElfSymbols::AddFrom(Elf* elf) {
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    if (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || shdr.sh_entsize == 0) continue;
    const size_t count = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 1; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      const int type = GELF_ST_TYPE(sym.st_info);
      if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
      if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS || sym.st_value == 0) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name == nullptr || name[0] == '\0') continue;
      const int bind = GELF_ST_BIND(sym.st_info);
      uint8_t rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
      symbols_.push_back({sym.st_value, sym.st_size, names_.Intern(name), rank});
    }
  }
}

void ElfSymbols::Finalize() {
  names_.Finalize();
  std::sort(symbols_.begin(), symbols_.end(), [this](const Symbol& a, const Symbol& b) {
    if (a.start != b.start) return a.start < b.start;
    if ((a.size == 0) != (b.size == 0)) return a.size != 0;  // a sized alias wins
    if (a.rank != b.rank) return a.rank < b.rank;
    std::string_view an = names_.Get(a.name), bn = names_.Get(b.name);
    int au = UnderscorePrefix(an), bu = UnderscorePrefix(bn);
    if (au != bu) return au < bu;
    return an < bn;
  });
  std::vector<Symbol> unique;
  unique.reserve(symbols_.size());
  for (const Symbol& s : symbols_) {
    if (!unique.empty() && unique.back().start == s.start) continue;
    unique.push_back(s);
  }
  for (size_t i = 0; i < unique.size(); ++i) {
    const uint64_t next = i + 1 < unique.size() ? unique[i + 1].start : UINT64_MAX;
    if (unique[i].size == 0) {
      // Sizeless (assembly) symbols: up to the next symbol, at most 64 KiB.
      unique[i].size = std::min<uint64_t>(next - unique[i].start, 64 * 1024);
    } else if (unique[i].start + unique[i].size > next) {
      unique[i].size = next - unique[i].start;
    }
  }
  unique.shrink_to_fit();
  symbols_.swap(unique);
  demangled_.Reset(symbols_.size());
}

const ElfSymbols::Symbol* ElfSymbols::Find(uint64_t vaddr) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), vaddr,
                             [](uint64_t v, const Symbol& s) { return v < s.start; });
  if (it == symbols_.begin()) return nullptr;
  --it;
  return vaddr - it->start < it->size ? &*it : nullptr;
}

}  // namespace internal
}  // namespace cpprof
