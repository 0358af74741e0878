#include "tetherd/engine/mirror_index.hpp"

#include <utility>
#include <vector>

#include "tetherd/core/store_key.hpp"

namespace tetherd::daemon {

MirrorIndex::MirrorIndex() = default;
MirrorIndex::~MirrorIndex() = default;

template <typename NodeT, typename OnStep>
NodeT* MirrorIndex::descend(NodeT& root, std::string_view path, OnStep&& on_step) {
  NodeT* node = &root;
  const bool missing = core::any_segment_of(path, [&](std::string_view segment) {
    if (!node->children) return true;
    auto child = node->children->find(segment);
    if (child == node->children->end()) return true;
    on_step(*node, segment);
    node = &child->second;
    return false;
  });
  return missing ? nullptr : node;
}

const MirrorIndex::Node* MirrorIndex::find_node(std::string_view path) const {
  return descend(root_, path, [](const Node&, std::string_view) {});
}

MirrorIndex::Node& MirrorIndex::make_node(std::string_view path) {
  Node* node = &root_;
  core::any_segment_of(path, [&node](std::string_view segment) {
    if (!node->children) node->children = std::make_unique<Children>();
    auto child = node->children->find(segment);
    if (child == node->children->end()) {
      child = node->children->emplace(std::string(segment), Node()).first;
    }
    node = &child->second;
    return false;
  });
  return *node;
}

// The point of the packing (64-bit targets): a million entries cost 40 MB less.
static_assert(sizeof(void*) != 8 || sizeof(Mirrored) <= 64);

TargetState Mirrored::target() const {
  TargetState target;
  target.type = target_type();
  target.size = target_size_;
  if (has_target_mtime_) target.mtime_ns = target_mtime_ns_;
  if (has_target_mode_) target.mode = target_mode_;
  if (target_link_) target.link_target = *target_link_;
  return target;
}

void Mirrored::set_target(const TargetState& target) {
  target_type_ = static_cast<std::uint8_t>(target.type);
  target_size_ = target.size;
  has_target_mtime_ = target.mtime_ns.has_value();
  target_mtime_ns_ = target.mtime_ns.value_or(0);
  has_target_mode_ = target.mode.has_value();
  target_mode_ = target.mode.value_or(0);
  if (target.link_target.empty()) {
    target_link_.reset();
  } else {
    target_link_ = std::make_unique<const std::string>(target.link_target);
  }
}

const Mirrored* MirrorIndex::find(std::string_view path) const {
  const Node* node = find_node(path);
  return node && node->value ? &*node->value : nullptr;
}

void MirrorIndex::note_write(std::string_view path) {
  Node* node = descend(root_, path, [](Node&, std::string_view) {});
  if (node && node->value && node->value->racy) node->value->write_reported = true;
}

Mirrored& MirrorIndex::operator[](std::string_view path) {
  Node& node = make_node(path);
  if (!node.value) {
    node.value.emplace();
    ++size_;
  }
  return *node.value;
}

std::size_t MirrorIndex::count_values(const Node& node) {
  std::size_t count = node.value ? 1 : 0;
  if (node.children) {
    for (const auto& [name, child] : *node.children)
      count += count_values(child);
  }
  return count;
}

std::size_t MirrorIndex::count_within(std::string_view path) const {
  const Node* node = find_node(path);
  if (!node) return 0;
  return count_values(*node) - (node->value ? 1 : 0);
}

// GCC 12 at -O3 warns that moving the detached node reads its entry's fields
// uninitialised when the node holds no entry (a false positive of its optional<> analysis).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
std::optional<MirrorIndex::Node> MirrorIndex::detach(std::string_view path) {
  if (path.empty()) {
    Node whole = std::move(root_);
    root_ = Node();
    return whole;
  }
  // The chain of nodes down to the parent, to prune the ones the removal leaves empty.
  std::vector<std::pair<Node*, std::string_view>> chain;  // (parent, segment in it)
  const auto record = [&chain](Node& parent, std::string_view segment) {
    chain.emplace_back(&parent, segment);
  };
  if (!descend(root_, path, record)) return std::nullopt;
  auto& [parent, name] = chain.back();
  Node detached = std::move(parent->children->extract(parent->children->find(name)).mapped());
  // Ancestors left with neither an entry nor children go too (never the root).
  for (std::size_t i = chain.size(); i-- > 0;) {
    Node* holder = chain[i].first;
    if (holder->children && holder->children->empty()) holder->children.reset();
    if (i == 0 || holder->value || holder->children) break;
    auto& [grandparent, segment] = chain[i - 1];
    grandparent->children->erase(grandparent->children->find(segment));
  }
  return detached;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void MirrorIndex::erase_subtree(std::string_view path) {
  if (auto removed = detach(path)) size_ -= count_values(*removed);
}

void MirrorIndex::move_subtree(std::string_view from, std::string_view to) {
  erase_subtree(to);
  auto moved = detach(from);
  if (!moved) return;
  Node& place = make_node(to);
  place = std::move(*moved);
}

}  // namespace tetherd::daemon
