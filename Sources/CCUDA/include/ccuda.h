// Our own declarations for the parts of the CUDA driver API, NVRTC, cuBLASLt, cuDNN and NCCL that
// TurboDiffusion uses. Nothing here links CUDA: the libraries are opened at run time with
// dlopen and their entry points are collected into the function-pointer tables below.
// Enum values and struct layouts follow the CUDA 13 headers (cuda.h, nvrtc.h, cublasLt.h,
// library_types.h) and cuDNN 9's (cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h); only the values we
// use are listed.
#ifndef CCUDA_H
#define CCUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Driver API (cuda.h)

typedef int CUresult;                 // enum cudaError_enum; CUDA_SUCCESS = 0
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

// CUDA_MEMCPY2D (v2): a copy of Height rows of WidthInBytes between pitched regions.
typedef struct {
    size_t srcXInBytes, srcY;
    int srcMemoryType;                // CU_MEMORYTYPE_DEVICE = 2
    const void *srcHost;
    CUdeviceptr srcDevice;
    void *srcArray;
    size_t srcPitch;
    size_t dstXInBytes, dstY;
    int dstMemoryType;
    void *dstHost;
    CUdeviceptr dstDevice;
    void *dstArray;
    size_t dstPitch;
    size_t WidthInBytes, Height;
} CCUDA_MEMCPY2D;

enum { CCU_MEMORYTYPE_DEVICE = 2 };

enum {
    CCUDA_SUCCESS = 0,
    CCUDA_ERROR_OUT_OF_MEMORY = 2,
    CCUDA_ERROR_NOT_INITIALIZED = 3,
    CCUDA_ERROR_NO_DEVICE = 100,
    CCUDA_ERROR_INVALID_DEVICE = 101,
    CCUDA_ERROR_NOT_READY = 600,
};

// CUdevice_attribute
enum {
    CCU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CCU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CCU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CCU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CCU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

// CUfunction_attribute
enum { CCU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

// Stream and event flags
enum { CCU_STREAM_NON_BLOCKING = 0x1 };
enum { CCU_EVENT_DEFAULT = 0x0, CCU_EVENT_DISABLE_TIMING = 0x2 };

typedef struct CCUDADriverAPI {
    CUresult (*cuInit)(unsigned int flags);
    CUresult (*cuDriverGetVersion)(int *version);
    CUresult (*cuGetErrorString)(CUresult error, const char **str);
    CUresult (*cuGetErrorName)(CUresult error, const char **str);
    CUresult (*cuDeviceGetCount)(int *count);
    CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
    CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
    CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
    CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device);                     // _v2
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
    CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);                            // _v2
    CUresult (*cuCtxSetCurrent)(CUcontext context);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuMemAlloc)(CUdeviceptr *pointer, size_t bytes);                        // _v2
    CUresult (*cuMemFree)(CUdeviceptr pointer);                                        // _v2
    CUresult (*cuMemGetInfo)(size_t *freeBytes, size_t *totalBytes);                    // _v2
    CUresult (*cuMemHostAlloc)(void **pointer, size_t bytes, unsigned int flags);
    CUresult (*cuMemFreeHost)(void *pointer);
    CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);   // _v2
    CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);         // _v2
    CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);                                // _v2
    CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);   // _v2
    CUresult (*cuMemcpy2DAsync)(const CCUDA_MEMCPY2D *copy, CUstream stream);                         // _v2
    CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t count, CUstream stream);
    CUresult (*cuMemsetD32Async)(CUdeviceptr dst, unsigned int value, size_t count, CUstream stream);
    CUresult (*cuStreamCreate)(CUstream *stream, unsigned int flags);
    CUresult (*cuStreamDestroy)(CUstream stream);                                      // _v2
    CUresult (*cuStreamSynchronize)(CUstream stream);
    CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event, unsigned int flags);
    CUresult (*cuEventCreate)(CUevent *event, unsigned int flags);
    CUresult (*cuEventDestroy)(CUevent event);                                         // _v2
    CUresult (*cuEventRecord)(CUevent event, CUstream stream);
    CUresult (*cuEventSynchronize)(CUevent event);
    CUresult (*cuEventElapsedTime)(float *milliseconds, CUevent start, CUevent end);
    CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
    CUresult (*cuModuleUnload)(CUmodule module);
    CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module, const char *name);
    CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
    CUresult (*cuLaunchKernel)(CUfunction f,
                               unsigned int gridX, unsigned int gridY, unsigned int gridZ,
                               unsigned int blockX, unsigned int blockY, unsigned int blockZ,
                               unsigned int sharedMemBytes, CUstream stream,
                               void **kernelParams, void **extra);
} CCUDADriverAPI;

// MARK: - NVRTC (nvrtc.h)

typedef int nvrtcResult;              // NVRTC_SUCCESS = 0, NVRTC_ERROR_COMPILATION = 6
typedef struct _nvrtcProgram *nvrtcProgram;

enum { CCUDA_NVRTC_SUCCESS = 0, CCUDA_NVRTC_ERROR_COMPILATION = 6 };

typedef struct CCUDANVRTCAPI {
    const char *(*nvrtcGetErrorString)(nvrtcResult result);
    nvrtcResult (*nvrtcVersion)(int *major, int *minor);
    nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram *program, const char *source, const char *name,
                                      int numHeaders, const char *const *headers,
                                      const char *const *includeNames);
    nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram *program);
    nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram program, int numOptions, const char *const *options);
    nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram program, size_t *size);
    nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram program, char *cubin);
    nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram program, size_t *size);
    nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram program, char *log);
} CCUDANVRTCAPI;

// MARK: - cuBLASLt (cublasLt.h, cublas_api.h, library_types.h)

typedef int cublasStatus_t;           // CUBLAS_STATUS_SUCCESS = 0
typedef struct cublasLtContext *cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque_t *cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque_t *cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque_t *cublasLtMatmulPreference_t;

// cudaDataType_t
enum {
    CCUDA_R_32F = 0,
    CCUDA_R_16F = 2,
    CCUDA_R_8I = 3,
    CCUDA_R_32I = 10,
    CCUDA_R_16BF = 14,
    CCUDA_R_8F_E4M3 = 28,
};

// cublasComputeType_t
enum {
    CCUBLAS_COMPUTE_32F = 68,
    CCUBLAS_COMPUTE_32F_FAST_TF32 = 77,
    CCUBLAS_COMPUTE_32I = 72,
};

// cublasOperation_t
enum { CCUBLAS_OP_N = 0, CCUBLAS_OP_T = 1 };

// cublasLtMatmulDescAttributes_t
enum {
    CCUBLASLT_MATMUL_DESC_COMPUTE_TYPE = 0,
    CCUBLASLT_MATMUL_DESC_SCALE_TYPE = 1,
    CCUBLASLT_MATMUL_DESC_POINTER_MODE = 2,
    CCUBLASLT_MATMUL_DESC_TRANSA = 3,
    CCUBLASLT_MATMUL_DESC_TRANSB = 4,
    CCUBLASLT_MATMUL_DESC_TRANSC = 5,
    CCUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    CCUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    CCUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE = 10,
    CCUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
};

// cublasLtEpilogue_t
enum { CCUBLASLT_EPILOGUE_DEFAULT = 1, CCUBLASLT_EPILOGUE_BIAS = 4, CCUBLASLT_EPILOGUE_GELU = 32, CCUBLASLT_EPILOGUE_GELU_BIAS = 36 };

// cublasLtMatrixLayoutAttribute_t
enum {
    CCUBLASLT_MATRIX_LAYOUT_TYPE = 0,
    CCUBLASLT_MATRIX_LAYOUT_ORDER = 1,
    CCUBLASLT_MATRIX_LAYOUT_ROWS = 2,
    CCUBLASLT_MATRIX_LAYOUT_COLS = 3,
    CCUBLASLT_MATRIX_LAYOUT_LD = 4,
    CCUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,           // int32_t
    CCUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6,  // int64_t, elements
};

// cublasLtOrder_t
enum { CCUBLASLT_ORDER_COL = 0, CCUBLASLT_ORDER_ROW = 1 };

// cublasLtMatmulPreferenceAttributes_t
enum {
    CCUBLASLT_MATMUL_PREF_SEARCH_MODE = 0,
    CCUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,       // uint64_t
    CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,     // uint32_t, default 256
    CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
};

typedef struct cublasLtMatmulAlgo_t { uint64_t data[8]; } cublasLtMatmulAlgo_t;

typedef struct cublasLtMatmulHeuristicResult_t {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

typedef struct CCUDACublasLtAPI {
    size_t (*cublasLtGetVersion)(void);
    cublasStatus_t (*cublasLtCreate)(cublasLtHandle_t *handle);
    cublasStatus_t (*cublasLtDestroy)(cublasLtHandle_t handle);
    cublasStatus_t (*cublasLtMatmulDescCreate)(cublasLtMatmulDesc_t *desc, int computeType, int scaleType);
    cublasStatus_t (*cublasLtMatmulDescDestroy)(cublasLtMatmulDesc_t desc);
    cublasStatus_t (*cublasLtMatmulDescSetAttribute)(cublasLtMatmulDesc_t desc, int attribute,
                                                     const void *value, size_t size);
    cublasStatus_t (*cublasLtMatrixLayoutCreate)(cublasLtMatrixLayout_t *layout, int type,
                                                 uint64_t rows, uint64_t cols, int64_t ld);
    cublasStatus_t (*cublasLtMatrixLayoutDestroy)(cublasLtMatrixLayout_t layout);
    cublasStatus_t (*cublasLtMatrixLayoutSetAttribute)(cublasLtMatrixLayout_t layout, int attribute,
                                                       const void *value, size_t size);
    cublasStatus_t (*cublasLtMatmulPreferenceCreate)(cublasLtMatmulPreference_t *pref);
    cublasStatus_t (*cublasLtMatmulPreferenceDestroy)(cublasLtMatmulPreference_t pref);
    cublasStatus_t (*cublasLtMatmulPreferenceSetAttribute)(cublasLtMatmulPreference_t pref, int attribute,
                                                           const void *value, size_t size);
    cublasStatus_t (*cublasLtMatmulAlgoGetHeuristic)(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                                     cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                     cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                                     cublasLtMatmulPreference_t pref, int requested,
                                                     cublasLtMatmulHeuristicResult_t *results, int *returned);
    cublasStatus_t (*cublasLtMatmul)(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                     const void *alpha, const void *a, cublasLtMatrixLayout_t aLayout,
                                     const void *b, cublasLtMatrixLayout_t bLayout, const void *beta,
                                     const void *c, cublasLtMatrixLayout_t cLayout,
                                     void *d, cublasLtMatrixLayout_t dLayout,
                                     const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspaceBytes,
                                     CUstream stream);
} CCUDACublasLtAPI;

// MARK: - cuDNN 9 (cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h)
//
// The legacy convolution API. libcudnn.so.9 is a dispatcher that exports every entry point and
// opens its sub-libraries (libcudnn_ops, libcudnn_cnn, the engines) from its own folder on first
// use. The convolution calls are marked deprecated in cuDNN 9 but remain in every 9.x release.

typedef int cudnnStatus_t;            // CUDNN_STATUS_SUCCESS = 0; 2000s bad parameter; 3000s not supported
typedef struct cudnnContext *cudnnHandle_t;
typedef struct cudnnTensorStruct *cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct *cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct *cudnnConvolutionDescriptor_t;

enum { CCUDNN_STATUS_SUCCESS = 0 };

// cudnnDataType_t
enum { CCUDNN_DATA_FLOAT = 0, CCUDNN_DATA_HALF = 2, CCUDNN_DATA_BFLOAT16 = 9 };

// cudnnMathType_t
enum { CCUDNN_DEFAULT_MATH = 0, CCUDNN_TENSOR_OP_MATH = 1, CCUDNN_FMA_MATH = 3 };

// cudnnTensorFormat_t, cudnnConvolutionMode_t
enum { CCUDNN_TENSOR_NCHW = 0, CCUDNN_TENSOR_NHWC = 1 };
enum { CCUDNN_CROSS_CORRELATION = 1 };

// cudnnConvolutionFwdAlgo_t (3 direct, 4/5 FFT, 6/7 Winograd are not used); COUNT = 8.
enum {
    CCUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0,
    CCUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
    CCUDNN_CONVOLUTION_FWD_ALGO_GEMM = 2,
    CCUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8,
};

typedef struct cudnnConvolutionFwdAlgoPerf_t {
    int algo;                         // cudnnConvolutionFwdAlgo_t
    cudnnStatus_t status;
    float time;
    size_t memory;                    // workspace bytes
    int determinism;                  // cudnnDeterminism_t
    int mathType;                     // cudnnMathType_t
    int reserved[3];
} cudnnConvolutionFwdAlgoPerf_t;

// The graph (backend) API of cuDNN 9 (cudnn_graph.h): opaque descriptors whose attributes are set
// by number, finalized, then executed (CUDABackend+CudnnGraph.swift names the values it uses).
typedef void *cudnnBackendDescriptor_t;

typedef struct CCUDACudnnAPI {
    size_t (*cudnnGetVersion)(void);
    const char *(*cudnnGetErrorString)(cudnnStatus_t status);
    void (*cudnnGetLastErrorString)(char *message, size_t maxSize);
    cudnnStatus_t (*cudnnCreate)(cudnnHandle_t *handle);
    cudnnStatus_t (*cudnnDestroy)(cudnnHandle_t handle);
    cudnnStatus_t (*cudnnSetStream)(cudnnHandle_t handle, CUstream stream);
    cudnnStatus_t (*cudnnCreateTensorDescriptor)(cudnnTensorDescriptor_t *desc);
    cudnnStatus_t (*cudnnSetTensorNdDescriptor)(cudnnTensorDescriptor_t desc, int dataType, int nbDims,
                                                const int dims[], const int strides[]);
    cudnnStatus_t (*cudnnDestroyTensorDescriptor)(cudnnTensorDescriptor_t desc);
    cudnnStatus_t (*cudnnCreateFilterDescriptor)(cudnnFilterDescriptor_t *desc);
    cudnnStatus_t (*cudnnSetFilterNdDescriptor)(cudnnFilterDescriptor_t desc, int dataType, int format,
                                                int nbDims, const int dims[]);
    cudnnStatus_t (*cudnnDestroyFilterDescriptor)(cudnnFilterDescriptor_t desc);
    cudnnStatus_t (*cudnnCreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t *desc);
    cudnnStatus_t (*cudnnSetConvolutionNdDescriptor)(cudnnConvolutionDescriptor_t desc, int arrayLength,
                                                     const int pads[], const int strides[], const int dilations[],
                                                     int mode, int computeType);
    cudnnStatus_t (*cudnnSetConvolutionMathType)(cudnnConvolutionDescriptor_t desc, int mathType);
    cudnnStatus_t (*cudnnDestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t desc);
    cudnnStatus_t (*cudnnGetConvolutionNdForwardOutputDim)(cudnnConvolutionDescriptor_t conv,
                                                           cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                                           int nbDims, int outputDims[]);
    cudnnStatus_t (*cudnnGetConvolutionForwardAlgorithm_v7)(cudnnHandle_t handle, cudnnTensorDescriptor_t x,
                                                            cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                            cudnnTensorDescriptor_t y, int requested, int *returned,
                                                            cudnnConvolutionFwdAlgoPerf_t *results);
    cudnnStatus_t (*cudnnGetConvolutionForwardWorkspaceSize)(cudnnHandle_t handle, cudnnTensorDescriptor_t x,
                                                             cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                             cudnnTensorDescriptor_t y, int algo, size_t *bytes);
    cudnnStatus_t (*cudnnConvolutionForward)(cudnnHandle_t handle, const void *alpha,
                                             cudnnTensorDescriptor_t xDesc, const void *x,
                                             cudnnFilterDescriptor_t wDesc, const void *w,
                                             cudnnConvolutionDescriptor_t conv, int algo,
                                             void *workspace, size_t workspaceBytes, const void *beta,
                                             cudnnTensorDescriptor_t yDesc, void *y);
    cudnnStatus_t (*cudnnBackendCreateDescriptor)(int descriptorType, cudnnBackendDescriptor_t *descriptor);
    cudnnStatus_t (*cudnnBackendDestroyDescriptor)(cudnnBackendDescriptor_t descriptor);
    cudnnStatus_t (*cudnnBackendFinalize)(cudnnBackendDescriptor_t descriptor);
    cudnnStatus_t (*cudnnBackendSetAttribute)(cudnnBackendDescriptor_t descriptor, int attributeName,
                                              int attributeType, int64_t elementCount, const void *arrayOfElements);
    cudnnStatus_t (*cudnnBackendGetAttribute)(cudnnBackendDescriptor_t descriptor, int attributeName,
                                              int attributeType, int64_t requestedElementCount,
                                              int64_t *elementCount, void *arrayOfElements);
    cudnnStatus_t (*cudnnBackendExecute)(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                         cudnnBackendDescriptor_t variantPack);
} CCUDACudnnAPI;

// MARK: - NCCL 2 (nccl.h)
//
// Collectives between the GPUs of one host (docs/multi-gpu.md). Only point-to-point send/receive in
// groups is used: it carries the all-to-all and the all-gather of unequal shards alike. Data is moved
// as bytes (ncclUint8), so any tensor dtype travels.

typedef int ncclResult_t;             // ncclSuccess = 0
typedef struct ncclComm *ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;   // NCCL_UNIQUE_ID_BYTES = 128

enum { CNCCL_SUCCESS = 0, CNCCL_UINT8 = 1 };

typedef struct CCUDANCCLAPI {
    ncclResult_t (*ncclGetVersion)(int *version);
    const char *(*ncclGetErrorString)(ncclResult_t result);
    const char *(*ncclGetLastError)(ncclComm_t comm);
    ncclResult_t (*ncclGetUniqueId)(ncclUniqueId *uniqueId);
    ncclResult_t (*ncclCommInitRank)(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
    ncclResult_t (*ncclCommDestroy)(ncclComm_t comm);
    ncclResult_t (*ncclCommAbort)(ncclComm_t comm);
    ncclResult_t (*ncclGroupStart)(void);
    ncclResult_t (*ncclGroupEnd)(void);
    ncclResult_t (*ncclSend)(const void *sendbuff, size_t count, int datatype, int peer, ncclComm_t comm, CUstream stream);
    ncclResult_t (*ncclRecv)(void *recvbuff, size_t count, int datatype, int peer, ncclComm_t comm, CUstream stream);
} CCUDANCCLAPI;

// MARK: - Loading

/// dlopen(path, RTLD_NOW | RTLD_LOCAL). On failure returns NULL and copies dlerror() into
/// `error` (at most `errorSize` bytes, NUL-terminated).
void *ccuda_open(const char *path, char *error, size_t errorSize);
void ccuda_close(void *handle);

/// Fill a table from an opened library. Return 0 on success; otherwise the table is
/// partial and `*missing` names the first symbol that was not found.
int ccuda_load_driver(void *handle, CCUDADriverAPI *api, const char **missing);
int ccuda_load_nvrtc(void *handle, CCUDANVRTCAPI *api, const char **missing);
int ccuda_load_cublaslt(void *handle, CCUDACublasLtAPI *api, const char **missing);
int ccuda_load_cudnn(void *handle, CCUDACudnnAPI *api, const char **missing);
int ccuda_load_nccl(void *handle, CCUDANCCLAPI *api, const char **missing);

#ifdef __cplusplus
}
#endif
#endif
