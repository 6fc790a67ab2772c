// chemctl log ... and chemctl merkle ...: the log core from a shell.

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/checkpoint.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "storage/leveldb_log.h"
#include "tools/chemctl/command.h"

namespace chemledger::chemctl {
namespace {

using crypto::Sha256Digest;

absl::StatusOr<std::unique_ptr<storage::Log>> OpenLog(const cli::Args& args,
                                                      bool create) {
  absl::StatusOr<std::string> db = args.Required("db");
  if (!db.ok()) return db.status();
  if (db->empty()) return absl::InvalidArgumentError("--db must not be empty");
  storage::LevelDbLogOptions options;
  options.create_if_missing = create;
  // Reading a log (verify, proofs) never repairs it; only appending, as a
  // server would, recovers a write torn by a crash.
  options.recover_torn_tail = create;
  return storage::OpenLevelDbLog(*db, options);
}

absl::Status Append(const cli::Args& args) {
  std::vector<std::string> entries;
  if (args.positional().empty()) {
    std::string line;
    while (std::getline(std::cin, line)) entries.push_back(line);
  } else {
    entries = args.positional();
  }
  if (args.Bool("hex")) {
    for (size_t i = 0; i < entries.size(); ++i) {
      absl::StatusOr<std::string> raw = crypto::HexDecode(entries[i]);
      if (!raw.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("entry ", i, ": ", raw.status().message()));
      }
      entries[i] = *std::move(raw);
    }
  }
  if (entries.empty()) return absl::InvalidArgumentError("no entries given");
  auto log = OpenLog(args, /*create=*/true);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> first = (*log)->Append(entries);
  if (!first.ok()) return first.status();
  std::cout << "appended " << entries.size() << " entries at indexes " << *first << ".."
            << *first + entries.size() - 1 << "; log size " << (*log)->Size() << "\n";
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SizeArg(const cli::Args& args, const storage::Log& log) {
  return args.Uint("size", log.Size());
}

absl::Status Root(const cli::Args& args) {
  auto log = OpenLog(args, false);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> size = SizeArg(args, **log);
  if (!size.ok()) return size.status();
  absl::StatusOr<Sha256Digest> root = (*log)->Root(*size);
  if (!root.ok()) return root.status();
  std::cout << "size " << *size << "\nroot " << root->ToHex() << "\n";
  return absl::OkStatus();
}

absl::Status Entry(const cli::Args& args) {
  auto log = OpenLog(args, false);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> index = args.Uint("index");
  if (!index.ok()) return index.status();
  absl::StatusOr<std::string> entry = (*log)->Entry(*index);
  if (!entry.ok()) return entry.status();
  if (args.Bool("hex")) {
    std::cout << crypto::HexEncode(*entry) << "\n";
  } else {
    std::cout << *entry;
  }
  return absl::OkStatus();
}

absl::Status Proof(const cli::Args& args) {
  auto log = OpenLog(args, false);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> index = args.Uint("index");
  if (!index.ok()) return index.status();
  absl::StatusOr<uint64_t> size = SizeArg(args, **log);
  if (!size.ok()) return size.status();
  auto proof = (*log)->InclusionProof(*index, *size);
  if (!proof.ok()) return proof.status();
  absl::StatusOr<Sha256Digest> leaf = (*log)->LeafHash(*index);
  if (!leaf.ok()) return leaf.status();
  absl::StatusOr<Sha256Digest> root = (*log)->Root(*size);
  if (!root.ok()) return root.status();
  std::cout << "index " << *index << "\nsize " << *size << "\nleaf_hash " << leaf->ToHex()
            << "\nroot " << root->ToHex() << "\n";
  for (const Sha256Digest& h : *proof) std::cout << "proof " << h.ToHex() << "\n";
  // Check what was printed with the client-side verifier, as a reader would.
  absl::Status verified = crypto::VerifyInclusion(*index, *size, *leaf, *proof, *root);
  if (!verified.ok()) return absl::DataLossError(verified.message());
  std::cout << "verified inclusion proof of entry " << *index << " in tree size " << *size
            << "\n";
  return absl::OkStatus();
}

absl::Status Consistency(const cli::Args& args) {
  auto log = OpenLog(args, false);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> from = args.Uint("from");
  if (!from.ok()) return from.status();
  absl::StatusOr<uint64_t> to = args.Uint("to", (*log)->Size());
  if (!to.ok()) return to.status();
  auto proof = (*log)->ConsistencyProof(*from, *to);
  if (!proof.ok()) return proof.status();
  absl::StatusOr<Sha256Digest> old_root = (*log)->Root(*from);
  if (!old_root.ok()) return old_root.status();
  absl::StatusOr<Sha256Digest> new_root = (*log)->Root(*to);
  if (!new_root.ok()) return new_root.status();
  std::cout << "from " << *from << "\nto " << *to << "\nold_root " << old_root->ToHex()
            << "\nnew_root " << new_root->ToHex() << "\n";
  for (const Sha256Digest& h : *proof) std::cout << "proof " << h.ToHex() << "\n";
  absl::Status verified =
      crypto::VerifyConsistency(*from, *to, *old_root, *new_root, *proof);
  if (!verified.ok()) return absl::DataLossError(verified.message());
  std::cout << "verified consistency proof from size " << *from << " to " << *to << "\n";
  return absl::OkStatus();
}

absl::Status Verify(const cli::Args& args) {
  // Optionally against a signed checkpoint: the only way to catch a rewrite
  // that recomputed every hash, or a truncation.
  absl::optional<storage::TreeHead> trusted;
  if (!args.Has("checkpoint") && (args.Has("origin") || args.Has("verifier-key"))) {
    return absl::InvalidArgumentError("--origin and --verifier-key need --checkpoint");
  }
  if (args.Has("checkpoint")) {
    absl::StatusOr<std::string> origin = args.Required("origin");
    if (!origin.ok()) return origin.status();
    absl::StatusOr<std::string> vkey = args.Required("verifier-key");
    if (!vkey.ok()) return vkey.status();
    auto verifier = crypto::NoteVerifier::FromVerifierKey(*vkey);
    if (!verifier.ok()) return verifier.status();
    auto note = cli::ReadFileOrStdin(args.Get("checkpoint"));
    if (!note.ok()) return note.status();
    auto checkpoint = crypto::OpenCheckpoint(*note, *origin, *verifier);
    if (!checkpoint.ok()) return checkpoint.status();
    trusted = storage::TreeHead{checkpoint->size, checkpoint->root_hash};
  }
  auto log = OpenLog(args, false);
  if (!log.ok()) return log.status();
  absl::StatusOr<storage::IntegrityReport> report = (*log)->CheckIntegrity(trusted);
  if (!report.ok()) return report.status();
  if (trusted) {
    std::cout << "matches the signed checkpoint at size " << trusted->size << "\n";
  }
  std::cout << "ok: log size " << report->tree_size << ", " << report->entries_checked
            << " entries re-hashed, " << report->nodes_checked
            << " tree nodes re-derived and matched\nroot " << report->root.ToHex() << "\n";
  return absl::OkStatus();
}

absl::Status MerkleRoot(const cli::Args& args) {
  std::vector<Sha256Digest> leaves;
  for (size_t i = 0; i < args.positional().size(); ++i) {
    absl::StatusOr<std::string> entry = crypto::HexDecode(args.positional()[i]);
    if (!entry.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("leaf ", i, " ('", args.positional()[i], "'): ",
                       entry.status().message()));
    }
    leaves.push_back(crypto::HashLeaf(*entry));
  }
  std::cout << crypto::RootFromLeafHashes(leaves).ToHex() << "\n";
  return absl::OkStatus();
}

const char kDbHelp[] = "  --db DIR      the log's LevelDB directory\n";

}  // namespace

std::vector<Command> LogCommands() {
  return {
      {"log append", "append entries to a log (creating it if needed)",
       absl::StrCat("usage: chemctl log append --db DIR [--hex] [ENTRY...]\n\n"
                    "Appends the ENTRY arguments, or with none, each line of standard\n"
                    "input, as one atomic, durable batch. Prints their indexes.\n\n",
                    kDbHelp, "  --hex         entries are hex-encoded bytes\n"),
       {{"db"}, {"hex"}}, Append},
      {"log root", "print the log's size and RFC 6962 root hash",
       absl::StrCat("usage: chemctl log root --db DIR [--size N]\n\n", kDbHelp,
                    "  --size N      root of the first N entries (default: all)\n"),
       {{"db", "size"}, {}}, Root},
      {"log entry", "print one entry",
       absl::StrCat("usage: chemctl log entry --db DIR --index I [--hex]\n\n", kDbHelp,
                    "  --index I     entry index (from 0)\n"
                    "  --hex         print the entry hex-encoded\n"),
       {{"db", "index"}, {"hex"}}, Entry},
      {"log proof", "print (and check) an inclusion proof",
       absl::StrCat("usage: chemctl log proof --db DIR --index I [--size N]\n\n"
                    "Prints the leaf hash, root and the RFC 9162 inclusion proof of entry I\n"
                    "in the tree of size N, then checks it with the client-side verifier.\n\n",
                    kDbHelp, "  --index I     entry index\n"
                    "  --size N      tree size (default: the log's size)\n"),
       {{"db", "index", "size"}, {}}, Proof},
      {"log consistency", "print (and check) a consistency proof",
       absl::StrCat("usage: chemctl log consistency --db DIR --from N [--to M]\n\n"
                    "Prints both roots and the RFC 9162 consistency proof between tree sizes\n"
                    "N and M, then checks it with the client-side verifier.\n\n",
                    kDbHelp, "  --from N      older tree size\n"
                    "  --to M        newer tree size (default: the log's size)\n"),
       {{"db", "from", "to"}, {}}, Consistency},
      {"log verify", "re-derive every hash from the entries (tamper check)",
       absl::StrCat("usage: chemctl log verify --db DIR\n"
                    "                          [--checkpoint FILE --origin O --verifier-key VKEY]\n\n"
                    "Re-hashes every entry, re-derives every stored tree node and reports\n"
                    "the first mismatch. Exit status 1 when the log was altered. With a\n"
                    "signed checkpoint, also requires the log to reach its size and to have\n"
                    "its root there (catches rewrites and truncation).\n\n",
                    kDbHelp,
                    "  --checkpoint FILE       a signed checkpoint you trust (- for stdin)\n"
                    "  --origin O              the log's origin\n"
                    "  --verifier-key VKEY     the log's note verifier key\n"),
       {{"db", "checkpoint", "origin", "verifier-key"}, {}}, Verify},
  };
}

std::vector<Command> MerkleCommands() {
  return {
      {"merkle root", "RFC 6962 root of hex-encoded leaves",
       "usage: chemctl merkle root [HEX...]\n\n"
       "Prints the RFC 6962 Merkle tree hash (hex) of the given entries. Each\n"
       "argument is one entry, hex-encoded; an empty argument is an empty entry;\n"
       "no argument at all is the empty tree.\n",
       {{}, {}}, MerkleRoot},
  };
}

}  // namespace chemledger::chemctl
