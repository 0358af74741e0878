#include "tetherd/daemon/mirror_index.hpp"

#include <vector>

namespace tetherd::daemon {

namespace {

// Calls `visit(segment)` for each segment of the relative path `path`, in order; stops and
// returns false as soon as `visit` does. The root ("") has no segments.
template <typename Visit>
bool each_segment(std::string_view path, Visit&& visit) {
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (!visit(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

}  // namespace

MirrorIndex::MirrorIndex() = default;
MirrorIndex::~MirrorIndex() = default;

const MirrorIndex::Node* MirrorIndex::find_node(std::string_view path) const {
  const Node* node = &root_;
  const bool found = each_segment(path, [&node](std::string_view segment) {
    if (!node->children) return false;
    auto child = node->children->find(segment);
    if (child == node->children->end()) return false;
    node = &child->second;
    return true;
  });
  return found ? node : nullptr;
}

MirrorIndex::Node& MirrorIndex::make_node(std::string_view path) {
  Node* node = &root_;
  each_segment(path, [&node](std::string_view segment) {
    if (!node->children) node->children = std::make_unique<Children>();
    auto child = node->children->find(segment);
    if (child == node->children->end()) {
      child = node->children->emplace(std::string(segment), Node()).first;
    }
    node = &child->second;
    return true;
  });
  return *node;
}

const Mirrored* MirrorIndex::find(std::string_view path) const {
  const Node* node = find_node(path);
  return node && node->value ? &*node->value : nullptr;
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

std::optional<MirrorIndex::Node> MirrorIndex::detach(std::string_view path) {
  if (path.empty()) {
    Node whole = std::move(root_);
    root_ = Node();
    return whole;
  }
  // The chain of nodes down to the parent, to prune the ones the removal leaves empty.
  std::vector<std::pair<Node*, std::string_view>> chain;  // (parent, segment in it)
  Node* node = &root_;
  const bool found = each_segment(path, [&](std::string_view segment) {
    if (!node->children) return false;
    auto child = node->children->find(segment);
    if (child == node->children->end()) return false;
    chain.emplace_back(node, segment);
    node = &child->second;
    return true;
  });
  if (!found) return std::nullopt;
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
