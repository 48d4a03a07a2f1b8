// Tests change a held resource in place: decode, edit, pack again.
#pragma once

#include "xds/packed.h"

namespace agent::xds {

template <typename Message, typename Edit>
void EditPacked(Packed<Message>& packed, Edit&& edit) {
  Message message = packed.Unpack();
  edit(message);
  packed = Packed<Message>(message);
}

}  // namespace agent::xds
