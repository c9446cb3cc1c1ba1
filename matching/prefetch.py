"""``prefetch(array, index)``: a hint, inside numba kernels, that ``array[index]`` will be read soon.

A pool query reads the rows of a few thousand candidates scattered over hundreds of megabytes: each
read is a cache miss (~100-150 ns), and when the code after it depends on the value (a distance
test, then a branch), the processor waits for it. Asking for the rows a few candidates ahead
(LLVM's ``llvm.prefetch``, one instruction) lets those misses overlap. It changes no result: an index
out of range is never read, only its cache line is asked for (the hint is dropped by the hardware).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, array, index):
    """Ask for the cache line of ``array[index]`` (1-D) or of row ``array[index, 0]`` (2-D); returns nothing."""
    if not isinstance(array, types.Array) or array.ndim not in (1, 2) or not isinstance(index, types.Integer):
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        data = context.make_array(array_type)(context, builder, args[0])
        i = context.cast(builder, args[1], index_type, types.intp)
        indices = [i] if array_type.ndim == 1 else [i, context.get_constant(types.intp, 0)]
        pointer = cgutils.get_item_pointer(context, builder, array_type, data, indices, wraparound=False,
                                           boundscheck=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0i8")
        # read (0), keep in every cache level (3), data cache (1)
        builder.call(hint, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
